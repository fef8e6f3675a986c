from __future__ import annotations

from django.contrib import admin
from django.urls import path

from . import views

urlpatterns = [
    path("sync/", views.sync_view),
    path("async/", views.async_view),
    path("admin/", admin.site.urls),
]
