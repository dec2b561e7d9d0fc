"""A hostile WebSocket target for bench/hostile_errors.sh: answers every handshake with
`HTTP/1.1 403 <reason>` and closes. `random`: 24 random characters each time; `echo`:
`Echo Bearer <API_TOKEN> b64=<base64> url=<percent-encoded>`.

Usage: python3 status_text_server.py PORT [random|echo]   (listens on 127.0.0.1)
"""
import asyncio, base64, os, random, string, sys, urllib.parse
port = int(sys.argv[1]); mode = sys.argv[2] if len(sys.argv) > 2 else "random"
secret = os.environ.get("API_TOKEN", "")
count = 0
async def handle(r, w):
    global count
    try:
        await r.readuntil(b"\r\n\r\n")
        count += 1
        if mode == "random":
            reason = "".join(random.choices(string.ascii_letters + string.digits, k=24))
        else:
            reason = "Echo Bearer " + secret + " b64=" + base64.b64encode(secret.encode()).decode() + " url=" + urllib.parse.quote(secret, safe="")
        w.write(f"HTTP/1.1 403 {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
        await w.drain()
    except Exception:
        pass
    finally:
        w.close()
async def main():
    s = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    async with s: await s.serve_forever()
asyncio.run(main())
