"""FranceConnect's rules, pure: who may be linked to an agrément (`matching`), which tokens are accepted (`tokens`),
and the refusals with their French messages (`refusals`)."""
