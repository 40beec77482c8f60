"""Authentication and authorization of the API: access tokens, the route-by-role matrix, login
rate limits."""
