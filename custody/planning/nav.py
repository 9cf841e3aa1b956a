from django.utils.translation import gettext_noop as N_

NAV = [("planning:plan_list", N_("Transfer plans"), "view")]
