"""readmission: a 30-day readmission classifier with temporal windows and prerequisite gates."""
