from __future__ import annotations

from django.contrib import admin
from django.urls import path

from demo import views

urlpatterns = [
    path("", views.index, name="index"),
    path("async/", views.async_index, name="async-index"),
    path("admin/", admin.site.urls),
]
