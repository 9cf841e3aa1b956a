from django.utils.translation import gettext_noop as N_

NAV = [("repatriation:board", N_("Repatriation"), "view")]
