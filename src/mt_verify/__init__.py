"""mt-verify: is this Missing Table environment healthy, and is it running the release we shipped?"""

__version__ = "0.1.0"
