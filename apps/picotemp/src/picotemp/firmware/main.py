"""Pico W entry point (MicroPython only): Wi-Fi, the HTTP server, watchdog and LED.

Copied to the board as ``main.py`` next to ``core.py`` and ``secrets.py`` (see the app's
README). Everything that decides what to answer lives in ``core.py``, which the simulator
and the tests run too; this file only wires it to the hardware.
"""

import asyncio
import secrets
import time

import core
import machine
import network

# The board restarts itself if the main loop stops feeding this for 8 s (the RP2040
# maximum is about 8.3 s). Wi-Fi joins and every wait below feed it in shorter steps.
WATCHDOG_MS = 8000
JOIN_ATTEMPT_SECONDS = 15
BACKOFF_START_SECONDS = 2
BACKOFF_MAX_SECONDS = 60
HEARTBEAT_MS = 500

watchdog = machine.WDT(timeout=WATCHDOG_MS)
led = machine.Pin("LED", machine.Pin.OUT)
sensor = core.Sensor(machine.ADC(4))
active_connections = 0


def log(message):
    print("%d %s" % (time.ticks_ms(), message))


def sleep_fed(seconds):
    """Sleep without starving the watchdog; the LED blinks fast while not yet online."""
    end = time.ticks_add(time.ticks_ms(), int(seconds * 1000))
    while time.ticks_diff(end, time.ticks_ms()) > 0:
        watchdog.feed()
        led.toggle()
        time.sleep_ms(100)


def join_wifi(wlan):
    """Join with exponential backoff; never returns without a connection."""
    backoff = BACKOFF_START_SECONDS
    attempt = 0
    while True:
        attempt += 1
        log("wifi: joining %s (attempt %d)" % (secrets.WIFI_SSID, attempt))
        wlan.connect(secrets.WIFI_SSID, secrets.WIFI_PASSWORD)
        deadline = time.ticks_add(time.ticks_ms(), JOIN_ATTEMPT_SECONDS * 1000)
        while time.ticks_diff(deadline, time.ticks_ms()) > 0:
            if wlan.status() == network.STAT_GOT_IP:
                log("wifi: online as %s, %s" % (core.HOSTNAME, wlan.ifconfig()[0]))
                return
            if wlan.status() < 0:  # wrong password, no AP, connect failed
                break
            sleep_fed(0.2)
        log("wifi: failed with status %d, retrying in %d s" % (wlan.status(), backoff))
        wlan.disconnect()
        sleep_fed(backoff)
        backoff = min(backoff * 2, BACKOFF_MAX_SECONDS)


async def read_head(reader):
    buffer = b""
    while not core.head_complete(buffer):
        chunk = await reader.read(256)
        if not chunk:
            break
        buffer += chunk
        if len(buffer) > core.MAX_REQUEST_BYTES:
            break
    return buffer


async def serve_one(reader, writer):
    head = await read_head(reader)
    status, response = core.respond(head, sensor)
    writer.write(response)
    await writer.drain()
    return status


async def handle(reader, writer):
    global active_connections
    if active_connections >= core.MAX_CONNECTIONS:
        try:
            # Read the request first: closing with unread bytes sends RST, and the
            # client would never see the 503.
            await asyncio.wait_for(read_head(reader), 1)
            writer.write(core.busy_response())
            await asyncio.wait_for(writer.drain(), 1)
        except Exception:  # noqa: S110 - the client is turned away either way
            pass
        writer.close()
        await writer.wait_closed()
        return
    active_connections += 1
    try:
        await asyncio.wait_for(serve_one(reader, writer), core.CONNECTION_TIMEOUT_SECONDS)
    except Exception as exc:  # timeout or a client that went away: drop the connection
        log("http: dropped connection: %r" % exc)
    finally:
        active_connections -= 1
        writer.close()
        await writer.wait_closed()


async def heartbeat(wlan):
    """Feed the watchdog and blink slowly while the event loop runs; a stuck loop or a
    lost network (which the loop cannot fix) ends in a watchdog reset and a fresh join."""
    lost_since = None
    while True:
        if wlan.isconnected():
            lost_since = None
        elif lost_since is None:
            lost_since = time.ticks_ms()
            log("wifi: connection lost")
        elif time.ticks_diff(time.ticks_ms(), lost_since) > 30000:
            log("wifi: still offline, restarting the board")
            machine.reset()
        watchdog.feed()
        led.toggle()
        await asyncio.sleep_ms(HEARTBEAT_MS)


async def serve(wlan):
    await asyncio.start_server(handle, "0.0.0.0", core.PORT, backlog=core.MAX_CONNECTIONS)
    log("http: serving on port %d" % core.PORT)
    await heartbeat(wlan)


def main():
    network.country(getattr(secrets, "WIFI_COUNTRY", "GB"))
    network.hostname(core.HOSTNAME)
    wlan = network.WLAN(network.STA_IF)
    wlan.active(True)
    wlan.config(pm=0xA11140)  # no power saving: answers come fast, at ~20 mA more
    join_wifi(wlan)
    asyncio.run(serve(wlan))


main()
