from django.utils.translation import gettext_noop as N_

NAV = [
    ("biometrics:station", N_("Biometric enrolment"), "biometric_images"),
    ("biometrics:queue", N_("Biometric adjudication"), "biometric_images"),
    ("biometrics:verify", N_("Verify identity"), "add"),
]
