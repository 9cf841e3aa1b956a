from django.urls import path

from custody.matching import views

app_name = "matching"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("pairs/<int:pk>/", views.pair_detail, name="pair_detail"),
    path("pairs/<int:pk>/decide/", views.decide, name="decide"),
    path("people/<str:ref>/", views.person_matches, name="person_matches"),
    path("merges/", views.merge_list, name="merge_list"),
    path("merges/<int:pk>/undo/", views.merge_undo, name="merge_undo"),
    path("lists/", views.reference_lists, name="reference_lists"),
    path("runs/", views.run_list, name="run_list"),
    path("runs/<int:pk>/undo/", views.run_undo, name="run_undo"),
]
