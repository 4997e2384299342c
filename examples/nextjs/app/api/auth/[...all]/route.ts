import { handler } from "@/lib/auth-server";

export const { GET, POST } = handler;
