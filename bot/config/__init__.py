"""The configuration file (TOML): generic typed reading; each section's parser lives with its
owner and the composition root (`bot.app`) hands them in."""
