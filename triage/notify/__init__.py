"""Notifications: an outbox written with the events that cause them, a delivery worker that
sends them over e-mail and the group robots of 企业微信, 钉钉 and 飞书, and the log of every
attempt."""
