"""The routing and SLA policy: who handles a case, who assists, who is escalated to, and
every deadline, as a declarative file the dealership can change without touching code."""
