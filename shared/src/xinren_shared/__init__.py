"""Infrastructure shared by the Xinren services. No business rule lives here."""
