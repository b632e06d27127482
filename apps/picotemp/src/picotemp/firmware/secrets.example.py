# Copy to secrets.py (never committed: .gitignore lists it), fill in, and copy it to the
# board with main.py and core.py. MicroPython imports it as the module `secrets`.
WIFI_SSID = "your-network"
WIFI_PASSWORD = "your-password"
# Two-letter country code: sets the legal Wi-Fi channels and power.
WIFI_COUNTRY = "GB"
