// The sandbox's stand-in of the Missing Table SPA (a shell until the smoke tier's page lands).
document.getElementById("app").textContent = "The table you've been missing.";
