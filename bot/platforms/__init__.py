"""Chat platforms as vertical slices (console, webhook, slack/, discord/): adapters only
translate between their platform and the platform-free core."""
