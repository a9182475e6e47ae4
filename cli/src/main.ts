console.log("sealpost");
