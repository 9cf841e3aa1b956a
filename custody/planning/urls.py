from django.urls import path

from custody.planning import views

app_name = "planning"
urlpatterns = [
    path("", views.plan_list, name="plan_list"),
    path("scenarios/<int:pk>/", views.scenario_detail, name="scenario_detail"),
    path("scenarios/<int:pk>/download/", views.scenario_download, name="scenario_download"),
    path("runs/<int:pk>/", views.run_detail, name="run_detail"),
    path("runs/<int:pk>/status/", views.run_status, name="run_status"),
    path("runs/<int:pk>/days/<int:day>/", views.run_day, name="run_day"),
    path("runs/<int:pk>/days/<int:day>/manifests.pdf", views.run_day_pdf, name="run_day_pdf"),
    path("runs/<int:pk>/progress/", views.run_progress, name="run_progress"),
]
