"""`python -m identity.franceconnect.dev_provider [--host 127.0.0.1] [--port 8106]`: the development provider."""
from identity.franceconnect.dev_provider.app import main

raise SystemExit(main())
