import asyncio, time, httpx
async def main():
    n=0
    lim=httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(base_url="http://127.0.0.1:8911", limits=lim) as c:
        end=time.perf_counter()+5
        async def w():
            nonlocal n
            while time.perf_counter()<end:
                await c.post("/bare", content=b'{"card_no":"A1"}', headers={"Content-Type":"application/json"}); n+=1
        await asyncio.gather(*(w() for _ in range(32)))
    print(n/5)
asyncio.run(main())
