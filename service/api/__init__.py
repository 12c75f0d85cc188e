"""HTTP controllers: thin adapters between Litestar and the domain modules."""
