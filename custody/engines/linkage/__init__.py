"""Record linkage: blocking, Fellegi–Sunter model, clustering, explanation, evaluation (no Django)."""
