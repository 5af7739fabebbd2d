"""The admin index links the cockpit first (above the open-discrepancy banner and the app list)."""

from django.contrib import admin

admin.site.index_template = "admin/cockpit/index.html"
admin.site.site_header = admin.site.site_title = "HA Portfolio Manager"
