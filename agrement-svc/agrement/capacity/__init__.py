"""The capacity engine: who is present at every moment of the week against the agrément and CASF L421-4
(`domain`, pure), and the exceptional over-capacity declarations of D421-17 (`commands`, `routes`)."""
