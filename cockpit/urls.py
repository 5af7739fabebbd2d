from django.urls import path

from cockpit import views

app_name = "cockpit"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("sections/<slug:name>/", views.section, name="section"),
]
