from django.urls import path

from custody.camps import views

app_name = "camps"
urlpatterns = [
    path("", views.camp_list, name="camp_list"),
    path("children/", views.children, name="children"),
    path("children.csv", views.children_csv, name="children_csv"),
    path("trace/<str:ref>/", views.trace, name="trace"),
    path("<str:code>/", views.camp_detail, name="camp_detail"),
    path("<str:code>/record/", views.camp_record, name="camp_record"),
    path("<str:code>/households/<str:ref>/", views.household_detail, name="household_detail"),
]
