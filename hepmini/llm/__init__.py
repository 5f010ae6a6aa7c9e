"""Language models: one Reply shape, the client, the transport, one module per protocol, and prices."""
