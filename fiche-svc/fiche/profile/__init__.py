"""What the owners of fiches edit themselves (issue 8): the assmat's, MAM's or RPE's presentation, activities,
photos, setting (cadre d'accueil), planning, availability and contact visibility, and how fresh it is."""
