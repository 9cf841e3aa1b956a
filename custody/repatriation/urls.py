from django.urls import path

from custody.repatriation import views

app_name = "repatriation"
urlpatterns = [
    path("", views.board, name="board"),
    path("countries/<str:code>/", views.country, name="country"),
    path("countries/<str:code>/position/", views.country_position, name="country_position"),
    path("countries/<str:code>/contacts/", views.country_contact, name="country_contact"),
    path("countries/<str:code>/outreach/", views.country_outreach, name="country_outreach"),
    path("countries/<str:code>/export.<str:fmt>", views.export, name="export"),
    path("people/<str:ref>/", views.person, name="person"),
    path("people/<str:ref>/step/", views.person_step, name="person_step"),
    path("people/<str:ref>/override/", views.person_override, name="person_override"),
]
