from legato.cli import main

raise SystemExit(main())
