from django.urls import path

from custody.registry import import_views, views

app_name = "registry"
urlpatterns = [
    path("people/", views.person_list, name="person_list"),
    path("people/<str:ref>/", views.person_detail, name="person_detail"),
    path("people/<str:ref>/classification/", views.person_classify, name="person_classify"),
    path("people/<str:ref>/files/<int:file_id>/", views.person_file, name="person_file"),
    path("facilities/", views.facility_list, name="facility_list"),
    path("facilities/<str:code>/", views.facility_detail, name="facility_detail"),
    path("search/", views.search, name="search"),
    path("import/", import_views.import_start, name="import_start"),
    path("import/<str:token>/map/", import_views.import_map, name="import_map"),
    path("import/batches/", import_views.batch_list, name="batch_list"),
    path("import/batches/<int:pk>/undo/", import_views.batch_undo, name="batch_undo"),
    path("import/batches/<int:pk>/intake/", import_views.batch_intake, name="batch_intake"),
]
