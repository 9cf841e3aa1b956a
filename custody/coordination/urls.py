from django.urls import path

from custody.coordination import views

app_name = "coordination"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("sitrep/", views.sitrep_page, name="sitrep"),
    path("sitrep.pdf", views.sitrep_pdf, name="sitrep_pdf"),
    path("sitreps/", views.sitrep_list, name="sitrep_list"),
    path("sitreps/<int:pk>.pdf", views.sitrep_file, name="sitrep_file"),
    path("meetings/", views.meeting_list, name="meeting_list"),
    path("meetings/<int:pk>/", views.meeting_detail, name="meeting_detail"),
    path("actions/", views.action_list, name="action_list"),
    path("actions/<int:pk>/status/", views.action_status, name="action_status"),
    path("warnings/", views.warnings, name="warnings"),
]
