import { connect } from "@docwire/client";

const client = connect(`grpc://${process.env.DOCWIRE_GATEWAY ?? "localhost:12345"}`);
const { docs, parameters } = await client.post("/embed", [{ text: "hello" }, { text: "world" }], {
  parameters: { top_k: 3 },
});
for (const doc of docs) console.log(doc.text, doc.embedding?.data);
console.log(parameters["__results__"]);
client.close();
