"""Commands and event handlers of the notify service, one module per use case: the inbox (every consumed event,
and marking read), partner webhooks (subscriptions and deliveries), and timers."""
