"""What each check looks for, apart from how pytest runs it: pure functions over answers,
returning the problems found (empty: healthy)."""
