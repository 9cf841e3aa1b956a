"""Biometric engine: plain Python (no Django). Adapters per modality, galleries, fusion, calibration,
ANSI/NIST-ITL exchange and a synthetic fingerprint generator. See docs/biometrics.md."""
