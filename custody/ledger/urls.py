from django.urls import path

from custody.ledger import views

app_name = "ledger"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("status/", views.today_status, name="status"),
    path("verify/", views.verify, name="verify"),
    path("verify/status/", views.verification_status, name="verification_status"),
    path("verifications/<int:pk>/", views.verification_detail, name="verification"),
    path("record/", views.record, name="record"),
    path("people/<str:ref>/", views.person_timeline, name="person_timeline"),
    path("facilities/<str:code>/", views.facility_page, name="facility"),
    path("facilities/<str:code>/roll-call/", views.roll_call, name="roll_call"),
    path("discrepancies/", views.discrepancy_board, name="discrepancy_board"),
    path("discrepancies/<int:pk>/resolve/", views.resolve, name="resolve"),
    path("files/<str:sha256>/", views.event_file, name="file"),
    path("handovers/", views.handover, name="handover"),
    path("handovers/<str:reference>/", views.handover_detail, name="handover_detail"),
    path("handovers/<str:reference>/confirm/<int:item_id>/", views.handover_confirm, name="handover_confirm"),
    path("handovers/<str:reference>/bundle/", views.handover_bundle, name="handover_bundle"),
    path("delegations/", views.delegations, name="delegations"),
    path("delegations/<int:pk>/revoke/", views.delegation_revoke, name="delegation_revoke"),
]
