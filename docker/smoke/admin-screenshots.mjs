// Screenshots of the Django admin of a running stack, for docs/OPERATIONS.md (docs/img/*.png).
// Drives headless Chromium over the DevTools protocol (Node >= 20 with --experimental-websocket,
// no npm packages): logs in through the real login form (over nginx/TLS, so the CSRF origin check
// behind the proxy is exercised too), then captures each page.
//
//   node --experimental-websocket docker/smoke/admin-screenshots.mjs BASE_URL USER PASSWORD OUTDIR name=/path ...
//   (name=action:ACTION:ID:/changelist/ runs an admin action on one row and captures the page it opens)
//
// Chromium must be listening: chromium --headless --no-sandbox --disable-gpu --disable-background-networking
//   --ignore-certificate-errors --remote-debugging-port=9222 --user-data-dir=$(mktemp -d) about:blank
import { writeFileSync } from "node:fs";

const [base, user, password, outdir, ...pages] = process.argv.slice(2);
const port = process.env.CDP_PORT || "9222";

const version = await (await fetch(`http://127.0.0.1:${port}/json/version`)).json();
const target = await (await fetch(`http://127.0.0.1:${port}/json/new?about:blank`, { method: "PUT" })).json();
const ws = new WebSocket(target.webSocketDebuggerUrl);
await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });

let nextId = 1;
const pending = new Map();
const waiters = [];
ws.onmessage = (event) => {
  const message = JSON.parse(event.data);
  if (message.id && pending.has(message.id)) {
    const { resolve, reject } = pending.get(message.id);
    pending.delete(message.id);
    message.error ? reject(new Error(JSON.stringify(message.error))) : resolve(message.result);
  } else if (message.method) {
    for (const waiter of waiters.splice(0)) waiter(message);
  }
};
const send = (method, params = {}) => new Promise((resolve, reject) => {
  const id = nextId++;
  pending.set(id, { resolve, reject });
  ws.send(JSON.stringify({ id, method, params }));
});
// Resolve on the page's load event, with a deadline.
const loaded = (ms = 20000) => new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error("page load timed out")), ms);
  const listen = (message) => {
    if (message.method === "Page.loadEventFired") { clearTimeout(timer); resolve(); } else { waiters.push(listen); }
  };
  waiters.push(listen);
});
const evaluate = async (expression) => (await send("Runtime.evaluate", { expression, returnByValue: true })).result.value;

await send("Page.enable");
await send("Emulation.setDeviceMetricsOverride", { width: 1400, height: 900, deviceScaleFactor: 1, mobile: false });

let load = loaded();
await send("Page.navigate", { url: `${base}/admin/login/?next=/admin/` });
await load;
load = loaded();
await evaluate(`document.querySelector('#id_username').value = ${JSON.stringify(user)};
  document.querySelector('#id_password').value = ${JSON.stringify(password)};
  document.querySelector('#login-form').submit(); true`);
await load;
const after = await evaluate("location.pathname + ' | ' + document.title");
if (!after.startsWith("/admin/ |")) {
  console.error(`login failed: ${after}: ${(await evaluate("document.body.innerText")).slice(0, 300)}`);
  process.exit(1);
}
console.log(`logged in (${version.Browser})`);

for (const spec of pages) {
  const [name, path] = spec.split(/=(.*)/s, 2);
  if (path.startsWith("action:")) {
    const [, action, id, changelist] = path.split(":");
    load = loaded();
    await send("Page.navigate", { url: `${base}${changelist}` });
    await load;
    load = loaded();
    await evaluate(`document.querySelector('input.action-select[value="${id}"]').checked = true;
      document.querySelector('select[name=action]').value = ${JSON.stringify(action)};
      document.querySelector('#changelist-form').submit(); true`);
    await load;
  } else {
    load = loaded();
    await send("Page.navigate", { url: `${base}${path}` });
    await load;
  }
  const height = Math.min(2400, await evaluate("document.documentElement.scrollHeight"));
  await send("Emulation.setDeviceMetricsOverride", { width: 1400, height: Math.max(600, height), deviceScaleFactor: 1, mobile: false });
  const shot = await send("Page.captureScreenshot", { format: "png" });
  writeFileSync(`${outdir}/${name}.png`, Buffer.from(shot.data, "base64"));
  console.log(`${name}.png  ${path}  (${await evaluate("document.title")})`);
  await send("Emulation.setDeviceMetricsOverride", { width: 1400, height: 900, deviceScaleFactor: 1, mobile: false });
}
ws.close();
process.exit(0);
