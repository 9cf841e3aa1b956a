from django.urls import path

from custody.biometrics import views

app_name = "biometrics"
urlpatterns = [
    path("", views.station, name="station"),
    path("person/<str:ref>/", views.person_record, name="person"),
    path("person/<str:ref>/export.an2", views.export_person, name="export"),
    path("identification/<int:pk>/", views.identification, name="identification"),
    path("identification/<int:pk>/compare/<str:ref>/", views.compare, name="compare"),
    path("queue/", views.queue, name="queue"),
    path("capture/<int:pk>/image.png", views.capture_image, name="capture_image"),
    path("verify/", views.verify, name="verify"),
    path("search/", views.search, name="search"),
    path("import/", views.import_file, name="import"),
    path("calibration/", views.calibration, name="calibration"),
    path("calibration/<int:pk>/det.png", views.det_png, name="det_png"),
]
