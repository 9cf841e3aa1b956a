"""URL map: each domain app mounts its pages at /<app>/ (its urls.py) and its API at /api/<app>/
(its api.py exposing `register(router)`)."""

from __future__ import annotations

from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import set_language
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from custody.core import views as core_views
from custody.core.api import CustodyRouter
from custody.core.domains import app_modules
from custody.registry.views import home

router = CustodyRouter()  # Idempotency-Key on every POST (custody.core.idempotency)
# No ".json" twins of every route: custom actions would each need a `format` argument, and the
# Accept header already chooses the renderer.
router.include_format_suffixes = False
for _app, api in app_modules("api"):
    api.register(router)

urlpatterns = [
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("api/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI from drf-spectacular-sidecar (SWAGGER_UI_DIST="SIDECAR"), its start-up script served
    # as a file of its own (?script): the Content-Security-Policy allows no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="core/swagger_ui.html"),
         name="api-docs"),
    path("healthz", core_views.healthz, name="healthz"),
]

app_pages = [path("", home, name="home"), path("admin/", admin.site.urls)]
app_pages += [path(f"{app}/", include(f"custody.{app}.urls")) for app, _urls in app_modules("urls")]
app_pages.append(path("audit/", include("custody.core.urls")))

urlpatterns += i18n_patterns(*app_pages, prefix_default_language=False)
