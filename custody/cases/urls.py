from django.urls import path

from custody.cases import views

app_name = "cases"
urlpatterns = [
    path("", views.case_list, name="case_list"),
    path("people/<str:ref>/", views.person_case, name="person_case"),
    path("people/<str:ref>/status/", views.case_status, name="case_status"),
    path("people/<str:ref>/file/", views.file_generate, name="file_generate"),
    path("files/<int:pk>/<str:fmt>/", views.file_download, name="file_download"),
    path("items/", views.item_list, name="item_list"),
    path("items/new/", views.item_new, name="item_new"),
    path("items/<str:ref>/", views.item_detail, name="item_detail"),
    path("items/<str:ref>/attach/", views.item_attach, name="item_attach"),
    path("items/<str:ref>/releasability/", views.item_releasability, name="item_releasability"),
    path("items/<str:ref>/redact/", views.item_redact, name="item_redact"),
    path("items/<str:ref>/request/", views.item_request, name="item_request"),
    path("items/<str:ref>/files/<int:pk>/", views.attachment_download, name="attachment_download"),
    path("redactions/<int:pk>/", views.redaction_download, name="redaction_download"),
    path("disclosures/", views.disclosure_list, name="disclosure_list"),
    path("disclosures/<int:pk>/", views.disclosure_detail, name="disclosure_detail"),
    path("disclosures/<int:pk>/decide/", views.disclosure_decide, name="disclosure_decide"),
    path("recipients/", views.recipient_list, name="recipient_list"),
]
