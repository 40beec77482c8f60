"""A local HTTP server speaking HubSpot's, Airtable's, Notion's, Google's and OpenAI's wire APIs,
so the official clients can be pointed at it in the demo and the tests (see README.md)."""
