from django.dispatch import Signal

# Sent inside the import's transaction: batch, people (saved), facility_of {person_pk: Facility}, user.
# The custody ledger listens and records each person's registration/intake, so an import and its
# custody events commit or roll back together.
people_imported = Signal()
