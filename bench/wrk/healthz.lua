-- GET /healthz: the framework ceiling (no auth, no database).
dofile(os.getenv("WRK_DIR") .. "/report.lua")
