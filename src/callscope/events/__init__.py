"""Events: the in-process bus live components publish on and viewers subscribe to."""
