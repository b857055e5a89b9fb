"""The sending side of RingCX call streaming: simulator, fault injection, load generator."""
