from django.utils.translation import gettext_noop

NAV = [
    ("biometrics:station", gettext_noop("Biometric enrolment"), "biometric_images"),
    ("biometrics:queue", gettext_noop("Biometric adjudication"), "biometric_images"),
    ("biometrics:verify", gettext_noop("Verify identity"), "add"),
]
