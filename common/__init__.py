"""Infrastructure with no domain: the apps build on it, it imports none of them."""
