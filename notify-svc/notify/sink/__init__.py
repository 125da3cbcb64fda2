"""The local mail sink's pages and API (routes): where local runs and tests read the mails the sink transport
caught. The transport itself is in notify.adapters.transport."""
